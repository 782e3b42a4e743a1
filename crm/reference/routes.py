"""Admin pages for units, source regions, industries and settings."""
from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm.auth import policy
from crm.forms import commit_or_report, form_status
from crm.extensions import db
from crm.models import Industry, Region, Unit
from crm.reference import bp
from crm.reference.forms import ReferenceItemForm, RegionForm, SettingsForm
from crm.reference.queries import (industries_stmt, regions_stmt, stalled_thresholds,
                                   units_stmt, usd_rate)
from crm.reference.services import save_reference_item, set_stalled_thresholds, set_usd_rate

# kind in the URL → (model, list statement, title)
KINDS = {
    "units": (Unit, units_stmt, _l("责任单位")),
    "regions": (Region, regions_stmt, _l("来源地")),
    "industries": (Industry, industries_stmt, _l("产业类别")),
}


def _kind(kind: str):
    if kind not in KINDS:
        abort(404)
    return KINDS[kind]


@bp.route("/<kind>/")
@policy.require(policy.MANAGE_REFERENCE)
def index(kind: str):
    """List the items of one kind of reference data, inactive ones included."""
    model, stmt, title = _kind(kind)
    items = db.session.scalars(stmt(active_only=False)).all()
    return render_template("reference/index.html", kind=kind, items=items, title=title,
                           is_region=model is Region)


@bp.route("/<kind>/new", methods=["GET", "POST"])
@policy.require(policy.MANAGE_REFERENCE)
def create(kind: str):
    """Add a unit, region or industry."""
    return _item_form(kind, None)


@bp.route("/<kind>/<int:item_id>/edit", methods=["GET", "POST"])
@policy.require(policy.MANAGE_REFERENCE)
def edit(kind: str, item_id: int):
    """Rename, reorder or deactivate a unit, region or industry."""
    return _item_form(kind, item_id)


def _item_form(kind: str, item_id: int | None):
    model, _stmt, title = _kind(kind)
    item = db.get_or_404(model, item_id) if item_id else None
    form = (RegionForm if model is Region else ReferenceItemForm)(obj=item)
    if model is Region:
        form.parent_id.choices = [(0, "—")] + [
            (r.id, r.name) for r in db.session.scalars(regions_stmt())
            if item is None or r.id != item.id]
        if item is not None and not form.is_submitted():
            form.parent_id.data = item.parent_id or 0
    if form.validate_on_submit():
        parent_id = form.parent_id.data if model is Region else None
        if commit_or_report(form, lambda: save_reference_item(
                model, item, form.name.data, form.sort_order.data, form.active.data,
                parent_id)):
            flash(_("已保存"), "success")
            return redirect(url_for("reference.index", kind=kind))
    return render_template("reference/edit.html", form=form, kind=kind, item=item,
                           title=title), form_status(form)


@bp.route("/settings", methods=["GET", "POST"])
@policy.require(policy.MANAGE_REFERENCE)
def settings():
    """Edit admin-set values: the USD→CNY rate and the stalled thresholds."""
    form = SettingsForm()
    if not form.is_submitted():
        form.usd_rate.data = usd_rate()
        form.load_thresholds(stalled_thresholds())
    if form.validate_on_submit() and commit_or_report(form, lambda: (
            set_usd_rate(form.usd_rate.data), set_stalled_thresholds(form.thresholds()))):
        flash(_("已保存"), "success")
        return redirect(url_for("reference.settings"))
    return render_template("reference/settings.html", form=form), form_status(form)
