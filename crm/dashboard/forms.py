"""The dashboard's selectors: as-of month end, filters, ranking period and metric."""
from datetime import date, timedelta

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField
from wtforms.validators import Optional

from crm.dashboard.queries import METRICS, RANKING_METRICS
from crm.models import TARGET_METRICS
from crm.projects.queries import ProjectFilters

MONTHS_OFFERED = 60


def month_ends(today: date, count: int = MONTHS_OFFERED) -> list[date]:
    """The ends of the ``count`` months before today's, newest first."""
    out, day = [], today.replace(day=1) - timedelta(days=1)
    for _ in range(count):
        out.append(day)
        day = day.replace(day=1) - timedelta(days=1)
    return out


class DashboardForm(FlaskForm):
    """What the dashboard shows, read from the query string."""

    class Meta:
        csrf = False

    as_of = SelectField(_l("截至"), default="")
    unit = IntegerField(_l("责任单位"), validators=[Optional()])
    industry = IntegerField(_l("产业类别"), validators=[Optional()])
    region = IntegerField(_l("来源地"), validators=[Optional()])
    period = SelectField(_l("评比周期"), default="month", choices=[
        ("month", _l("本月")), ("quarter", _l("本季度")), ("year", _l("本年累计"))])
    rank_by = SelectField(_l("排名依据"), default="signed_amount", choices=[
        (m, _l(TARGET_METRICS[m][0])) for m in RANKING_METRICS if m in METRICS])

    def offer_months(self, today: date) -> None:
        """Offer today (month to date) and the past month ends."""
        self.as_of.choices = [("", _l("今天（本月至今）"))] + [
            (d.isoformat(), d.strftime("%Y-%m")) for d in month_ends(today)]

    def as_of_date(self, today: date) -> date:
        """The chosen as-of day (today when none or invalid)."""
        return date.fromisoformat(self.as_of.data) if self.as_of.data and \
            not self.as_of.errors else today

    def to_filters(self) -> ProjectFilters:
        """The unit, industry and region filters every figure shares."""
        return ProjectFilters(unit_id=self.unit.data, industry_id=self.industry.data,
                              region_id=self.region.data)
