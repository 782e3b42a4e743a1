"""Visit pages: list, detail, log (one phone screen), edit, complete a follow-up."""
import uuid
from datetime import datetime

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from crm.auth import policy
from crm.auth.queries import user_choices
from crm.clock import today
from crm.errors import RulesBroken
from crm.extensions import db
from crm.forms import commit_or_report, form_status, is_stale
from crm.history import entity_history_stmt
from crm.i18n import rule_message
from crm.models import Company, Project
from crm.reference.queries import units_stmt
from crm.text import normalize
from crm.visits import bp
from crm.visits.forms import VisitFilterForm, VisitForm
from crm.visits.queries import VisitFilters, trip_stats, visit_detail_stmt, visit_list_stmt
from crm.visits.services import (FIELD_LABELS, NeedsConfirmation, VisitData,
                                 complete_follow_up, log_visit, update_visit)


def _get_visit(visit_id: int):
    visit = db.session.scalar(visit_detail_stmt(visit_id))
    if visit is None:
        abort(404)
    return visit


def _fill_choices(form: VisitForm, company: Company | None) -> None:
    """Projects of the visited company; active colleagues as participants."""
    projects = db.session.scalars(select(Project).where(
        Project.company_id == company.id).order_by(Project.id.desc())).all() if company else []
    # Keep submitted project ids selectable so a changed company is reported, not lost.
    form.project_ids.choices = [(p.id, p.name) for p in projects]
    form.participant_ids.choices = user_choices()



def _form_data(form: VisitForm) -> VisitData:
    return VisitData(
        visited_on=form.visited_on.data, kind=form.kind.data,
        company_name=form.company_name.data or "", project_ids=form.project_ids.data or [],
        city=form.city.data or "", led_by_leader=form.led_by_leader.data,
        leader_name=form.leader_name.data or "",
        participant_ids=form.participant_ids.data or [],
        people_met=form.people_met.data or "", purpose=form.purpose.data or "",
        outcome=form.outcome.data or "", next_steps=form.next_steps.data or "",
        follow_up_on=form.follow_up_on.data,
        trip_destination=form.trip_destination.data or "",
        trip_start=form.trip_start.data, trip_end=form.trip_end.data)


def _company_named(name: str | None) -> Company | None:
    key = normalize(name)
    return db.session.scalar(select(Company).where(Company.name_key == key)) if key else None


@bp.route("/")
@login_required
def index():
    """All visits of the zone, newest first, with filters."""
    form = VisitFilterForm(request.args)
    form.validate()
    filters = VisitFilters() if form.errors else VisitFilters(
        date_from=form.date_from.data, date_to=form.date_to.data,
        officer_id=form.officer.data, unit_id=form.unit.data, company_id=form.company.data,
        project_id=form.project.data,
        city=form.city.data or "", kind=form.kind.data or "",
        led_by_leader=bool(form.led.data))
    page = db.paginate(visit_list_stmt(filters), page=form.page.data or 1,
                       per_page=current_app.config["PAGE_SIZE"], error_out=False)
    return render_template(
        "visits/index.html", page=page, form=form,
        units=[(u.id, u.name) for u in db.session.scalars(units_stmt())],
        users=user_choices(),
        can_log=policy.can(current_user, policy.LOG_VISIT))


@bp.route("/trips")
@login_required
def trips():
    """Trips (外出招商) per officer for a month (?month=YYYY-MM, default this month)."""
    try:
        month = datetime.strptime(request.args.get("month", ""), "%Y-%m").date()
    except ValueError:
        month = today().replace(day=1)
    return render_template("visits/trips.html", month=month, stats=trip_stats(month))


@bp.route("/<int:visit_id>")
@login_required
def detail(visit_id: int):
    """One visit and its history."""
    visit = _get_visit(visit_id)
    return render_template(
        "visits/detail.html", visit=visit, field_labels=FIELD_LABELS,
        changes=db.session.scalars(entity_history_stmt("visit", visit.id)).all(),
        can_edit=policy.can(current_user, policy.EDIT_VISIT, visit), today=today(),
        can_create_project=policy.can(current_user, policy.CREATE_PROJECT))


@bp.route("/new", methods=["GET", "POST"])
@policy.require(policy.LOG_VISIT)
def create():
    """Log a visit: defaults to today, me and my unit; ?company_id or ?project_id
    prefill the company (one tap from its page)."""
    form = VisitForm()
    company, warnings = None, []
    if not form.is_submitted():
        form.visited_on.data = today()
        form.idempotency_key.data = uuid.uuid4().hex
        form.participant_ids.data = [current_user.id]
        project = db.session.get(Project, request.args.get("project_id", type=int) or 0)
        company = project.company if project else db.session.get(
            Company, request.args.get("company_id", type=int) or 0)
        form.company_name.data = company.name if company else ""
        if project:
            form.project_ids.data = [project.id]
    else:
        company = _company_named(form.company_name.data)
    _fill_choices(form, company)
    created = []
    if form.validate_on_submit():
        try:
            ok = commit_or_report(form, lambda: created.append(log_visit(
                _form_data(form), current_user, form.idempotency_key.data or None,
                confirmed=form.confirm_duplicate.data)))
        except NeedsConfirmation as exc:
            db.session.rollback()
            warnings, ok = exc.warnings, False
        if ok:
            flash(_("走访已记录"), "success")
            return redirect(url_for("visits.detail", visit_id=created[0].id))
    status = 409 if warnings else form_status(form)
    return render_template("visits/edit.html", form=form, visit=None,
                           warnings=warnings), status


@bp.route("/<int:visit_id>/edit", methods=["GET", "POST"])
@login_required
def edit(visit_id: int):
    """Edit a visit of one's own unit."""
    visit = _get_visit(visit_id)
    policy.ensure(policy.EDIT_VISIT, visit)
    form = VisitForm()
    if not form.is_submitted():
        form.process(obj=visit)
        form.company_name.data = visit.company.name
        form.project_ids.data = [p.id for p in visit.projects]
        form.participant_ids.data = [u.id for u in visit.participants]
        form.version.data = str(visit.version)
    company = _company_named(form.company_name.data) if form.is_submitted() else visit.company
    _fill_choices(form, company)
    if not is_stale(form, visit) and form.validate_on_submit() and commit_or_report(
            form, lambda: update_visit(visit, _form_data(form), current_user,
                                       int(form.version.data or 0) or None)):
        flash(_("走访已保存"), "success")
        return redirect(url_for("visits.detail", visit_id=visit.id))
    status = form_status(form)
    return render_template("visits/edit.html", form=form, visit=visit, warnings=[]), status


@bp.route("/<int:visit_id>/follow-up-done", methods=["POST"])
@login_required
def follow_up_done(visit_id: int):
    """Mark the visit's follow-up as done."""
    visit = _get_visit(visit_id)
    policy.ensure(policy.EDIT_VISIT, visit)
    try:
        complete_follow_up(visit, current_user)
    except RulesBroken as exc:
        db.session.rollback()
        flash("；".join(rule_message(e) for e in exc.errors), "warning")
    else:
        db.session.commit()
        flash(_("跟进已完成"), "success")
    return redirect(request.form.get("next") if request.form.get("next") == "/"
                    else url_for("visits.detail", visit_id=visit.id))
