"""The dashboard page (驾驶舱)."""
from flask import render_template, request

from crm import lifecycle
from crm.auth import policy
from crm.clock import today
from crm.dashboard import bp, charts
from crm.dashboard.forms import DashboardForm
from crm.dashboard.queries import RANKING_METRICS
from crm.extensions import db
from crm.models import TARGET_METRICS
from crm.projects.queries import ProjectFilters
from crm.reference.queries import industries_stmt, region_choices, units_stmt, usd_rate


@bp.route("/")
@policy.require(policy.READ)
def index():
    """Tiles, charts, targets, ranking and watch lists as of a month end."""
    form = DashboardForm(request.args)
    form.offer_months(today())
    form.validate()
    as_of = form.as_of_date(today())
    # Invalid filters are shown as errors and ignored, never half-applied.
    base = ProjectFilters() if form.errors else form.to_filters()
    rank_period = form.period.data if not form.period.errors else "month"
    rank_by = form.rank_by.data if not form.rank_by.errors else "signed_amount"
    return render_template(
        "dashboard/index.html", form=form, as_of=as_of, base=base,
        rank_by=rank_by, **charts.page(base, as_of, rank_period, rank_by),
        today=today(), usd_rate=usd_rate(), target_metrics=TARGET_METRICS,
        ranking_metrics=RANKING_METRICS, stalled_kinds=lifecycle.STALLED_LABELS,
        regions=region_choices(),
        industries=[(i.id, i.name) for i in db.session.scalars(industries_stmt())],
        units=[(u.id, u.name) for u in db.session.scalars(units_stmt())])
