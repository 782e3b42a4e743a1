"""Forms for projects: create/edit, advance, correct, status, and the list filters."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (BooleanField, DateField, DecimalField, HiddenField, IntegerField,
                     SelectField, SelectMultipleField, StringField, TextAreaField)
from wtforms.validators import (DataRequired, Length, NumberRange, Optional, Regexp,
                                ValidationError)

from crm import lifecycle
from crm.forms import StrictForm
from crm.lifecycle import N_, STAGE_LABELS, STAGES, STATUS_LABELS, STATUSES
from crm.models import TEXT_MAX
from crm.projects.queries import DEFAULT_SORT, SORTS, ProjectFilters

# Input units for total investment → (currency, factor to 万).
INVESTMENT_UNITS = {N_("亿元"): ("CNY", 10000), N_("万元"): ("CNY", 1),
                    N_("万美元"): ("USD", 1), N_("亿美元"): ("USD", 10000)}
CAPACITY_UNITS = ("GW", "GWh", "MW", "万台", "万辆", "万吨", "万套", "万件", "万平方米", "间", "床")


class PartialDateField(StringField):
    """A milestone date typed as 2024-05-20, 2024-05 or 2024 (precision kept)."""

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        self.parsed = None
        try:
            self.parsed = lifecycle.parse_partial_date(self.data or "")
        except ValueError:
            raise ValueError(_l("无效的日期，请写作 2024-05-20、2024-05 或 2024")) from None

    def _value(self):
        return self.data or ""


class SigningFieldsForm(StrictForm):
    """The details a project needs from signing on (asked again by the stage gate)."""

    company_name = StringField(_l("投资方"), validators=[Optional(), Length(max=200)])
    region_ids = SelectMultipleField(_l("来源地"), coerce=int, validate_choice=True)
    industry_id = SelectField(_l("产业类别"), coerce=int)
    investment_value = DecimalField(_l("总投资"), validators=[
        Optional(), NumberRange(min=0, max=10**9)])
    investment_unit = SelectField(_l("金额单位"),
                                  choices=[(k, _l(k)) for k in INVESTMENT_UNITS])
    unit_id = SelectField(_l("责任单位"), coerce=int)


class ProjectForm(SigningFieldsForm):
    """Create or edit a project's details (stage and status have their own forms)."""

    name = StringField(_l("项目名称"), validators=[DataRequired(), Length(max=200)])
    content = TextAreaField(_l("建设内容"), validators=[Optional(), Length(max=TEXT_MAX)])
    capacity_value = DecimalField(_l("产能"), validators=[
        Optional(), NumberRange(min=0, max=10**9)])
    capacity_unit = StringField(_l("产能单位"), validators=[Optional(), Length(max=20)])
    land_area = DecimalField(_l("用地面积（亩）"), validators=[
        Optional(), NumberRange(min=0, max=10**7)])
    leader_name = StringField(_l("挂钩领导"), validators=[Optional(), Length(max=50)])
    officer_id = SelectField(_l("招商责任人"), coerce=int)
    notes = TextAreaField(_l("备注"), validators=[Optional(), Length(max=TEXT_MAX)])
    version = HiddenField()
    # The visit a lead comes from (转为在谈项目): the new project is linked to it.
    from_visit = HiddenField(validators=[Optional(), Regexp(r"^\d*$")])

    def validate_version(self, field):
        if field.data and not field.data.isdigit():
            raise ValidationError(_l("无效的版本号"))


class AdvanceForm(StrictForm):
    """Move a project forward: target stage and the milestone date of each stage passed."""

    stage = SelectField(_l("目标阶段"), choices=[(s, _l(STAGE_LABELS[s])) for s in STAGES[1:]])
    signed_on = PartialDateField(_l("签约时间"), validators=[Length(max=20)])
    started_on = PartialDateField(_l("开工时间"), validators=[Length(max=20)])
    producing_on = PartialDateField(_l("投产时间"), validators=[Length(max=20)])
    at_capacity_on = PartialDateField(_l("达产时间"), validators=[Length(max=20)])
    partial_production = BooleanField(_l("部分投产"))
    note = TextAreaField(_l("说明"), validators=[Optional(), Length(max=1000)])
    version = HiddenField(validators=[DataRequired()])

    def milestone_dates(self) -> dict:
        """The parsed milestone dates by stage."""
        return {s: getattr(self, f).parsed for s, f in lifecycle.MILESTONE_FIELDS.items()
                if getattr(getattr(self, f), "parsed", None) is not None}


class CorrectForm(StrictForm):
    """Move a project back (admin correction) with a reason."""

    stage = SelectField(_l("退回到"), choices=[(s, _l(STAGE_LABELS[s])) for s in STAGES[:-1]])
    reason = TextAreaField(_l("更正原因"), validators=[DataRequired(), Length(max=1000)])
    version = HiddenField(validators=[DataRequired()])


class StatusForm(StrictForm):
    """Put a project on hold, drop it or resume it."""

    status = SelectField(_l("状态"), choices=[(s, _l(STATUS_LABELS[s])) for s in STATUSES])
    reason = TextAreaField(_l("原因"), validators=[Optional(), Length(max=1000)])
    status_on = PartialDateField(_l("日期"), validators=[Length(max=20)])
    version = HiddenField(validators=[DataRequired()])


class ProjectFilterForm(FlaskForm):
    """The project list's filters, read from the query string."""

    class Meta:
        csrf = False

    q = StringField(_l("搜索"), validators=[Optional(), Length(max=100)])
    stage = SelectField(_l("阶段"), default="", choices=[("", _l("全部阶段"))] + [
        (s, _l(STAGE_LABELS[s])) for s in STAGES])
    status = SelectField(_l("状态"), default="", choices=[("", _l("全部状态"))] + [
        (s, _l(STATUS_LABELS[s])) for s in STATUSES])
    region = IntegerField(_l("来源地"), validators=[Optional()])
    industry = IntegerField(_l("产业类别"), validators=[Optional()])
    unit = IntegerField(_l("责任单位"), validators=[Optional()])
    officer = IntegerField(_l("招商责任人"), validators=[Optional()])
    major = BooleanField(_l("重大项目（≥10亿元）"))
    as_of = DateField(_l("截至日期"), validators=[Optional()])
    milestone = SelectField(_l("达到阶段"), default="", choices=[("", "")] + [
        (s, _l(STAGE_LABELS[s])) for s in STAGES[1:]])
    since = DateField(_l("起始日期"), validators=[Optional()])
    until = DateField(_l("截止日期"), validators=[Optional()])
    stalled = SelectField(_l("滞后"), default="", choices=[
        ("", ""), ("yellow", _l("黄灯")), ("red", _l("红灯")), ("any", _l("滞后"))])
    sort = StringField(validators=[Optional(), Length(max=20)])
    page = IntegerField(validators=[Optional(), NumberRange(min=1, max=10**6)])

    def to_filters(self) -> ProjectFilters:
        """The validated form as the list's filters (the board and dashboard links use
        the same query-string names)."""
        return ProjectFilters(
            q=self.q.data or "", stage=self.stage.data or None,
            status=self.status.data or None, region_id=self.region.data,
            industry_id=self.industry.data, unit_id=self.unit.data,
            officer_id=self.officer.data, major=bool(self.major.data),
            as_of=self.as_of.data, milestone=self.milestone.data or None,
            since=self.since.data, until=self.until.data,
            stalled=self.stalled.data or None)


def read_list_request(args) -> tuple[ProjectFilterForm, ProjectFilters, str]:
    """The list's filter form from a query string, the filters it selects (none when a
    value is invalid: filters are never half-applied) and the sort key: what the list
    shows and the ledger export writes."""
    form = ProjectFilterForm(args)
    form.validate()
    filters = form.to_filters() if not form.errors else ProjectFilters()
    sort = form.sort.data if form.sort.data in SORTS else DEFAULT_SORT
    return form, filters, sort


def filter_args(filters: ProjectFilters) -> dict[str, str]:
    """The query string that makes the list show exactly ``filters`` (the inverse of
    ``ProjectFilterForm.to_filters``): how the board and dashboard link to the list."""
    values = {"q": filters.q, "stage": filters.stage, "status": filters.status,
              "region": filters.region_id, "industry": filters.industry_id,
              "unit": filters.unit_id, "officer": filters.officer_id,
              "major": "y" if filters.major else None, "as_of": filters.as_of,
              "milestone": filters.milestone, "since": filters.since,
              "until": filters.until, "stalled": filters.stalled}
    return {k: v.isoformat() if hasattr(v, "isoformat") else str(v)
            for k, v in values.items() if v not in (None, "")}
