"""Forms for logging and editing a visit, and the visit list filters."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (BooleanField, DateField, HiddenField, IntegerField, SelectField,
                     SelectMultipleField, StringField, TextAreaField)
from wtforms.validators import DataRequired, Length, Optional, Regexp

from crm.forms import StrictForm
from crm.models import VISIT_KIND_LABELS, VISIT_KINDS


class VisitForm(StrictForm):
    """One visit: fits a phone screen; the trip part is optional."""

    visited_on = DateField(_l("走访日期"), validators=[DataRequired()])
    kind = SelectField(_l("方式"), choices=[(k, _l(VISIT_KIND_LABELS[k])) for k in VISIT_KINDS],
                       default="visit")
    company_name = StringField(_l("投资方"), validators=[DataRequired(), Length(max=200)])
    project_ids = SelectMultipleField(_l("涉及项目"), coerce=int)
    city = StringField(_l("地点（城市）"), validators=[Optional(), Length(max=50)])
    led_by_leader = BooleanField(_l("领导带队"))
    leader_name = StringField(_l("带队领导"), validators=[Optional(), Length(max=50)])
    participant_ids = SelectMultipleField(_l("我方人员"), coerce=int)
    people_met = StringField(_l("对方人员"), validators=[Optional(), Length(max=500)])
    purpose = TextAreaField(_l("目的"), validators=[Optional(), Length(max=2000)])
    outcome = TextAreaField(_l("成效"), validators=[Optional(), Length(max=2000)])
    next_steps = TextAreaField(_l("下一步"), validators=[Optional(), Length(max=2000)])
    follow_up_on = DateField(_l("跟进日期"), validators=[Optional()])
    trip_destination = StringField(_l("出差目的地"), validators=[Optional(), Length(max=100)])
    trip_start = DateField(_l("出发日期"), validators=[Optional()])
    trip_end = DateField(_l("返回日期"), validators=[Optional()])
    idempotency_key = HiddenField(validators=[Optional(), Regexp(r"^[0-9a-f]{32}$")])
    confirm_duplicate = BooleanField(_l("我已知悉其他单位近期走访过该投资方，仍要保存"))
    version = HiddenField(validators=[Optional(), Regexp(r"^\d*$")])


class VisitFilterForm(FlaskForm):
    """The visit list's filters, read from the query string."""

    class Meta:
        csrf = False

    date_from = DateField(_l("开始日期"), validators=[Optional()])
    date_to = DateField(_l("结束日期"), validators=[Optional()])
    officer = IntegerField(_l("人员"), validators=[Optional()])
    unit = IntegerField(_l("单位"), validators=[Optional()])
    company = IntegerField(_l("投资方"), validators=[Optional()])
    project = IntegerField(_l("项目"), validators=[Optional()])
    city = StringField(_l("城市"), validators=[Optional(), Length(max=50)])
    kind = SelectField(_l("方式"), default="", choices=[("", _l("全部方式"))] + [
        (k, _l(VISIT_KIND_LABELS[k])) for k in VISIT_KINDS])
    led = BooleanField(_l("领导带队"))
    page = IntegerField(validators=[Optional()])
