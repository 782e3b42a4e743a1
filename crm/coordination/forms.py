"""Forms for coordination issues and instructions."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from crm.forms import StrictForm
from crm.models import TEXT_MAX


class IssueForm(StrictForm):
    """Raise a coordination issue on a project."""

    description = TextAreaField(_l("问题描述"),
                                validators=[DataRequired(), Length(max=TEXT_MAX)])
    acting_unit_id = SelectField(_l("责任单位"), coerce=int)
    due_on = DateField(_l("办结时限"), validators=[Optional()])


class CloseIssueForm(StrictForm):
    """Close (销号) an issue."""

    resolution = TextAreaField(_l("办理结果"), validators=[DataRequired(), Length(max=2000)])
    closed_on = DateField(_l("销号日期"), validators=[Optional()])


class InstructionForm(StrictForm):
    """A leader's instruction."""

    text = TextAreaField(_l("批示内容"), validators=[DataRequired(), Length(max=2000)])


class IssueFilterForm(FlaskForm):
    """The open-issue list's filter."""

    class Meta:
        csrf = False

    unit = IntegerField(_l("责任单位"), validators=[Optional()])
