"""Admin pages for annual targets: a year's list, create, edit, delete, copy last year's."""
from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm.auth import policy
from crm.clock import today
from crm.errors import RulesBroken
from crm.extensions import db
from crm.forms import commit_or_report, form_status
from crm.history import entity_history_stmt
from crm.i18n import rule_message
from crm.models import TARGET_METRICS, Target
from crm.reference.queries import region_choices, units_stmt
from crm.targets import bp
from crm.targets.forms import TargetForm
from crm.targets.queries import targets_for
from crm.targets.services import (FIELD_LABELS, MAX_YEAR, MIN_YEAR, TargetData, copy_targets,
                                  delete_target, save_target)


def _year() -> int:
    """The year asked for in the query string; the current year when absent or invalid."""
    year = request.args.get("year", type=int)
    return year if year is not None and MIN_YEAR <= year <= MAX_YEAR else today().year


@bp.route("/")
@policy.require(policy.MANAGE_REFERENCE)
def index():
    """A year's targets: 全区 first, then each unit in order, with a year switcher."""
    year = _year()
    return render_template("targets/index.html", year=year, targets=targets_for(year),
                           metrics=TARGET_METRICS, min_year=MIN_YEAR, max_year=MAX_YEAR)


@bp.route("/new", methods=["GET", "POST"])
@policy.require(policy.MANAGE_REFERENCE)
def create():
    """Set a target for a year, unit (or 全区) and metric."""
    return _target_form(None)


@bp.route("/<int:target_id>/edit", methods=["GET", "POST"])
@policy.require(policy.MANAGE_REFERENCE)
def edit(target_id: int):
    """Change a target."""
    return _target_form(db.get_or_404(Target, target_id))


def _fill_choices(form: TargetForm, target: Target | None) -> None:
    units = [(u.id, u.name) for u in db.session.scalars(units_stmt())]
    regions = region_choices()
    # A deactivated unit or region stays selectable on the target that has it.
    if target is not None and target.unit is not None and not target.unit.active:
        units.append((target.unit.id, _("%(name)s（已停用）", name=target.unit.name)))
    if target is not None and target.region is not None and not target.region.active:
        regions.append((target.region.id, _("%(name)s（已停用）", name=target.region.name)))
    form.unit_id.choices = [(0, _("全区"))] + units
    form.region_id.choices = [(0, "—")] + regions
    form.metric.choices = [(key, _("%(label)s（%(unit)s）", label=_(label), unit=_(unit)))
                           for key, (label, unit) in TARGET_METRICS.items()]


def _target_form(target: Target | None):
    form = TargetForm()
    _fill_choices(form, target)
    if not form.is_submitted():
        if target is None:
            form.year.data = _year()
        else:
            form.year.data, form.metric.data = target.year, target.metric
            form.unit_id.data, form.region_id.data = target.unit_id or 0, target.region_id or 0
            form.value.data = target.value
    saved = []
    if form.validate_on_submit() and commit_or_report(form, lambda: saved.append(save_target(
            target, TargetData(year=form.year.data, metric=form.metric.data,
                               value=form.value.data, unit_id=form.unit_id.data or None,
                               region_id=form.region_id.data or None), current_user))):
        flash(_("招商任务已保存"), "success")
        return redirect(url_for("targets.index", year=saved[0].year))
    changes = (db.session.scalars(entity_history_stmt("target", target.id)).all()
               if target is not None else [])
    return render_template("targets/edit.html", form=form, target=target, changes=changes,
                           field_labels=FIELD_LABELS,
                           back_year=target.year if target else _year()), form_status(form)


@bp.route("/<int:target_id>/delete", methods=["POST"])
@policy.require(policy.MANAGE_REFERENCE)
def delete(target_id: int):
    """Remove a target (the change history keeps what it was)."""
    target = db.get_or_404(Target, target_id)
    year = target.year
    delete_target(target, current_user)
    db.session.commit()
    flash(_("招商任务已删除"), "success")
    return redirect(url_for("targets.index", year=year))


@bp.route("/copy", methods=["POST"])
@policy.require(policy.MANAGE_REFERENCE)
def copy():
    """Copy last year's targets into the year shown, leaving ones already set alone."""
    year = _year()
    try:
        result = copy_targets(year, current_user)
        db.session.commit()
    except RulesBroken as exc:
        db.session.rollback()
        flash("；".join(rule_message(e) for e in exc.errors), "warning")
        return redirect(url_for("targets.index", year=year))
    if not (result.copied or result.existing or result.inactive):
        flash(_("%(source)s年没有可复制的任务", source=year - 1), "info")
        return redirect(url_for("targets.index", year=year))
    parts = [_("已从%(source)s年复制 %(n)s 项任务", source=year - 1, n=result.copied)]
    if result.existing:
        parts.append(_("%(n)s 项本年已有，未覆盖", n=result.existing))
    if result.inactive:
        parts.append(_("%(n)s 项的责任单位或来源地已停用，未复制", n=result.inactive))
    flash("；".join(parts), "success" if result.copied else "info")
    return redirect(url_for("targets.index", year=year))
